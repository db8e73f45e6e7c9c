/**
 * What both HTTP edges share (design.md layout: `ingest/` and `api/` never
 * import each other): authentication of sites and users, FHIR content types,
 * the one error middleware, async handler wrapping, content negotiation.
 */
export * from './auth';
export * from './errors';
export * from './handler';
export * from './content';
export * from './scope';
export * from './session';
export * from './security';
export * from './oidc';
