// The MapServer container's contract: its name in the task definition, the port it listens on, and
// where the mapfiles sit on the instance and inside the container.

export const CONTAINER_NAME = 'mapserver';
export const CONTAINER_PORT = 8080;
/** The bucket mount on the container instances (the mount service in the AMI makes it). */
export const MAPFILES_HOST_PATH = '/mnt/mapfiles';
/** Where the container reads the mapfiles, read-only. */
export const MAPFILES_CONTAINER_PATH = '/mapfiles';
