// Seeded randomness: every random choice of a reliability test can be replayed from the printed seed.

/** mulberry32: small, fast, and good enough to pick kill points and directory changes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** RELIABILITY_SEED when set, else a fresh one; printed so a failure can be replayed. */
export function seedFromEnv(label: string): number {
  const raw = process.env.RELIABILITY_SEED;
  const seed = raw ? Number(raw) : Math.floor(Math.random() * 2 ** 31);
  console.log(`    ${label}: seed ${seed} (replay with RELIABILITY_SEED=${seed})`);
  return seed;
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}
