import path from 'node:path';
import type { Config } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';
import { OPERATOR_TOKEN_FILE, resolveOperatorToken } from '../platform/secrets.js';
import { QUEUE_BOARD_PATH } from '../server/admin/queue-board.js';

/**
 * Zero-config start's pointer to the operator's pages, logged beside the demo tenant's key: the
 * live dashboard, and the queue admin UI with its credential (a browser asks for it: any user
 * name, the token as password). A token generated into DATA_DIR is shown; one set through
 * OPERATOR_TOKEN is not repeated in the log.
 */
export async function announceOperatorPages(config: Config, baseUrl: string, logger: Logger): Promise<void> {
  const token = await resolveOperatorToken(config);
  logger.info('operator pages', {
    dashboardUrl: `${baseUrl}/dashboard`,
    queuesUrl: `${baseUrl}${QUEUE_BOARD_PATH}`,
    operatorToken: config.OPERATOR_TOKEN ? '(OPERATOR_TOKEN)' : token,
    operatorTokenFile: config.OPERATOR_TOKEN ? undefined : path.join(config.DATA_DIR, OPERATOR_TOKEN_FILE),
  });
}
