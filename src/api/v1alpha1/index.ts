export * from './common.js';
export * from './directorysync.js';
export * from './user.js';
export * from './group.js';
export * from './policy.js';
export * from './objects.js';
