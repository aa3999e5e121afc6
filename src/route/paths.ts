/** Where `burrow route` looks for its config unless told (kept apart from config.ts, which loads YAML). */
export const DEFAULT_CONFIG_PATH = '/etc/burrow/route.yaml'
