// kstatus-compatible conditions: Ready always present; Reconciling and Stalled only while True;
// lastTransitionTime moves only when the status changes (as metav1.Condition defines it), so a reason or
// message that changes while the status holds does not look like a new transition.
import type { Condition } from '../api/v1alpha1/index.js';

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

export function setCondition(list: Condition[], input: ConditionInput, nowIso: string, generation?: number): Condition[] {
  const previous = list.find((c) => c.type === input.type);
  const unchanged = previous && previous.status === input.status;
  const next: Condition = {
    ...input,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime: unchanged ? previous.lastTransitionTime : nowIso,
  };
  return [...list.filter((c) => c.type !== input.type), next].sort(byType);
}

export function removeCondition(list: Condition[], type: string): Condition[] {
  return list.filter((c) => c.type !== type);
}

export function getCondition(list: readonly Condition[] | undefined, type: string): Condition | undefined {
  return list?.find((c) => c.type === type);
}

/** Ready first, then alphabetical: stable output keeps status writes to real changes. */
function byType(a: Condition, b: Condition): number {
  if (a.type === b.type) return 0;
  if (a.type === 'Ready') return -1;
  if (b.type === 'Ready') return 1;
  return a.type < b.type ? -1 : 1;
}
