import type { ConnectionService } from '../../src/services/integrations/connections.js';

/**
 * Stores an access/refresh pair on a connection and marks it active, as a finished authorization
 * would (tests issue the tokens with the simulator's `tokens.issue` instead of the browser dance).
 */
export async function storeAuthorizedTokens(service: ConnectionService, connectionId: string, tokens: { accessToken: string; refreshToken: string }, accessTtlMs: number): Promise<void> {
  const row = await service.store.findById(connectionId);
  if (!row) throw new Error(`no connection ${connectionId}`);
  await service.store.saveCredentials(
    row,
    [service.seal(connectionId, 'access_token', tokens.accessToken, new Date(Date.now() + accessTtlMs)), service.seal(connectionId, 'refresh_token', tokens.refreshToken, null)],
    () => 'active',
    { actor: 'test', action: 'connection.authorized' },
  );
}
