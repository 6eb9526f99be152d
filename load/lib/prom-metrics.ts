/** Reads a Prometheus text exposition (the hub's /metrics) into `name{labels}` → value. */
export async function fetchMetrics(url: string, timeoutMs = 5_000): Promise<Map<string, number>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const metrics = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    // The value is the last field; label values may hold spaces, so split from the right.
    const at = line.lastIndexOf(' ');
    const value = Number(line.slice(at + 1));
    if (at > 0 && !Number.isNaN(value)) metrics.set(line.slice(0, at), value);
  }
  return metrics;
}
