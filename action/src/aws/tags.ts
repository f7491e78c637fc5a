// The tag that marks what this pipeline made (AMIs, repositories, clusters, groups, topics), so
// cleanup and the bake decision can tell its resources from others.

export const MANAGED_TAG = 'mapserver-ecs:managed';
