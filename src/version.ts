/** The idpsync release, as it introduces itself to the apiserver and to webhook receivers. */
export const IDPSYNC_VERSION = '0.1.0';
