// Integration tests drive real tools (Packer, Docker builds, FUSE mounts): give every test and hook
// ten minutes. A project-level testTimeout is not applied to hooks, so it is set here.
import { jest } from '@jest/globals';

jest.setTimeout(600_000);
