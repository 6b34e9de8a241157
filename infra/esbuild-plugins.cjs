'use strict';

/**
 * The esbuild plugins every function is bundled with: serverless-esbuild requires this file
 * (`plugins` in the settings of infra/stack.cjs), and the bench bundles its stage workers with it.
 */

const { ownSourceMapsOnly } = require('./source-maps.cjs');

module.exports = [ownSourceMapsOnly()];
