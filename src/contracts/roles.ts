/** A user's role in its tenant; plain data so clients can name it without the database schema. */
export const userRoles = ['member', 'admin'] as const;
export type UserRole = (typeof userRoles)[number];
