import type { Adapter, Session } from 'socket.io-adapter';
import type { SocketData } from '../../contracts/socket/contracts.js';
import { rooms } from '../../contracts/socket/contracts.js';
import type { RevokedFamilies } from '../auth/revoked-families.js';
import { endSession, watchSessionExpiry } from './session-expiry.js';
import type { PulseServer, PulseSocket } from './types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Socket.IO's own type for an adapter factory
type AdapterFactory = (nsp: any) => Adapter;

/**
 * Keeps sockets within their sessions: expiry at the token's instant, revocation of a login on
 * every node, and connection-state recovery that never resumes a session that has ended.
 */
export class SessionGuard {
  private readonly expiry = watchSessionExpiry();
  private io: PulseServer | undefined;

  constructor(private readonly revoked: RevokedFamilies) {}

  /**
   * Socket.IO replays a recovered socket's missed packets and rejoins its rooms before any
   * middleware runs, so the check cannot wait for the handshake: a stored session whose token
   * has expired, or whose login was revoked, is not restored at all. The client then connects
   * as a new socket, through authentication, and catches up with `sync`.
   */
  guardRecovery(factory: AdapterFactory): AdapterFactory {
    const revoked = this.revoked;
    // A `function`, not an arrow: Socket.IO calls the factory with `new`.
    return function guardedAdapter(nsp: unknown) {
      const adapter = factory(nsp);
      const restore = adapter.restoreSession.bind(adapter);
      adapter.restoreSession = async (pid, offset) => {
        const session = await restore(pid, offset);
        if (!session) return session;
        const data = session.data as Partial<SocketData> | undefined;
        const live = typeof data?.expiresAt === 'number' && data.expiresAt > Date.now() && typeof data.familyId === 'string';
        if (!live || (await revoked.isRevoked(data.familyId as string))) return null as unknown as Session;
        return session;
      };
      return adapter;
    };
  }

  watch(io: PulseServer): void {
    this.io = io;
    io.on('session:revoked', (familyIds) => this.endLocal(familyIds));
  }

  track(socket: PulseSocket): void {
    this.expiry.track(socket);
  }

  untrack(socket: PulseSocket): void {
    this.expiry.untrack(socket);
  }

  /** Ends these logins: their access tokens stop working and their sockets end on every node. */
  async revoke(familyIds: string[]): Promise<void> {
    if (familyIds.length === 0) return;
    await this.revoked.revoke(familyIds);
    this.io?.serverSideEmit('session:revoked', familyIds);
    this.endLocal(familyIds);
  }

  private endLocal(familyIds: string[]): void {
    const io = this.io;
    if (!io) return;
    for (const familyId of familyIds) {
      for (const socketId of [...(io.of('/').adapter.rooms.get(rooms.family(familyId)) ?? [])]) {
        const socket = io.of('/').sockets.get(socketId);
        if (!socket) continue;
        this.expiry.untrack(socket);
        // An expiry in the past also makes the event guard refuse anything it sends meanwhile.
        socket.data.expiresAt = 0;
        endSession(socket, 'session_revoked');
      }
    }
  }

  close(): void {
    this.expiry.close();
  }
}
