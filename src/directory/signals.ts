// The CloudEvent type each kind of revocation is announced as.
import type { NotificationType, RevocationReason } from '../api/v1alpha1/index.js';

export const REVOCATION_NOTIFICATION_TYPE: Record<RevocationReason, NotificationType> = {
  Suspended: 'io.idpsync.user.suspended',
  Deleted: 'io.idpsync.user.deleted',
  RemovedFromGroups: 'io.idpsync.membership.removed',
};
