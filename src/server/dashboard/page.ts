import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Response } from 'express';

/**
 * The page's own files: plain browser modules and CSS, served as they are (no build step). Resolved
 * from the package root, which is three levels up from this file both in src/ (tsx) and in dist/
 * (the image copies this folder beside dist/).
 */
export const DASHBOARD_PUBLIC_DIR = fileURLToPath(new URL('../../../src/server/dashboard/public/', import.meta.url));

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));

/**
 * Every file `/dashboard/assets/<name>` serves, by name: nothing else under the folders is
 * reachable. Vendor files come straight from the project's own packages (the machines are
 * offline: no CDN), as classic scripts that define `uPlot` and `io`.
 */
export function dashboardAssets(): Record<string, string> {
  const uplot = path.join(packageDir('uplot'), 'dist');
  const socketIo = path.join(packageDir('socket.io-client'), 'dist');
  return {
    'app.js': path.join(DASHBOARD_PUBLIC_DIR, 'app.js'),
    'format.js': path.join(DASHBOARD_PUBLIC_DIR, 'format.js'),
    'dom.js': path.join(DASHBOARD_PUBLIC_DIR, 'dom.js'),
    'syncs-tile.js': path.join(DASHBOARD_PUBLIC_DIR, 'syncs-tile.js'),
    'backups-tile.js': path.join(DASHBOARD_PUBLIC_DIR, 'backups-tile.js'),
    'dashboard.css': path.join(DASHBOARD_PUBLIC_DIR, 'dashboard.css'),
    'uPlot.iife.min.js': path.join(uplot, 'uPlot.iife.min.js'),
    'uPlot.min.css': path.join(uplot, 'uPlot.min.css'),
    'socket.io.min.js': path.join(socketIo, 'socket.io.min.js'),
    'socket.io.min.js.map': path.join(socketIo, 'socket.io.min.js.map'),
  };
}

/**
 * `GET /dashboard`: the live operator dashboard, a page of the hub itself. Its scripts are files
 * of this origin, so helmet's CSP (`script-src 'self'`, no inline script) stays as it is. The page
 * signs in over the REST API and then lives on the socket (`dashboard` room); it needs no route of
 * its own beyond its files. Refuses to start when a file is missing rather than serving a broken page.
 */
export function dashboardRouter(): Router {
  const page = path.join(DASHBOARD_PUBLIC_DIR, 'index.html');
  const assets = dashboardAssets();
  const missing = [page, ...Object.values(assets)].filter((file) => !existsSync(file));
  if (missing.length > 0) throw new Error(`dashboard files missing: ${missing.join(', ')}`);

  // Revalidated on every load (Last-Modified), so a new hub version is picked up at once.
  const send = (res: Response, file: string) => res.sendFile(file, { cacheControl: false, lastModified: true, headers: { 'Cache-Control': 'no-cache' } });
  const router = Router();
  router.get('/dashboard', (_req, res) => send(res, page));
  router.get('/dashboard/assets/:name', (req, res, next) => {
    const file = Object.hasOwn(assets, req.params.name) ? assets[req.params.name] : undefined;
    if (file) send(res, file);
    else next();
  });
  return router;
}
