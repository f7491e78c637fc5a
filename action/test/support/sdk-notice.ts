// The AWS SDK's Node-version notice, repeated for every test file on Node 20, hides what the tests
// print; the product drops it the same way (action/src/node-warnings.ts).
import { dropSdkNodeVersionWarning } from '../../src/node-warnings.js';

dropSdkNodeVersionWarning();
