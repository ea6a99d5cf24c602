import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configDefaults, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('lets the old generation grow to four times its live size by default, and 0 hands the choice back to V8', () => {
    assert.equal(loadConfig({}).heapGrowthPercent, 300);
    assert.equal(configDefaults.heapGrowthPercent, 300);
    assert.equal(loadConfig({ PARLEY_HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent, 0);
    assert.equal(loadConfig({ PARLEY_HEAP_GROWTH_PERCENT: '150' }).heapGrowthPercent, 150);
  });

  it('rejects a heap growth that is not a whole percent from 0 to 1000, naming the variable', () => {
    for (const bad of ['-1', '1.5', 'lots', '300%', '1001']) {
      assert.throws(() => loadConfig({ PARLEY_HEAP_GROWTH_PERCENT: bad }), new RegExp(`^Error: PARLEY_HEAP_GROWTH_PERCENT: "${bad.replace('.', '\\.')}" must be an integer from 0 to 1000$`));
    }
  });

  it('rejects decoder and worker counts that are not positive whole numbers, trailing text included', () => {
    assert.equal(loadConfig({ PARLEY_STT_WORKERS: '2' }).sttWorkers, 2);
    for (const bad of ['0', '-2', '2.5', '3 workers']) {
      assert.throws(() => loadConfig({ PARLEY_STT_WORKERS: bad }), /PARLEY_STT_WORKERS: .* must be a positive integer/);
      assert.throws(() => loadConfig({ PARLEY_STT_MAX_DECODERS: bad }), /PARLEY_STT_MAX_DECODERS: .* must be a positive integer/);
    }
  });
});
