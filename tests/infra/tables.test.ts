import { describe, expect, it } from 'vitest';
import { infraTables } from '../../src/local/stack-model';
import { sourceTableNames } from '../../src/schemas/source';
import { warehouseTableNames } from '../../src/schemas/warehouse';

describe('infra/tables.cjs', () => {
  it('lists exactly the source tables of src/schemas/source.ts, in order', () => {
    expect(infraTables.sourceTableNames).toEqual(sourceTableNames);
  });

  it('lists exactly the warehouse tables of src/schemas/warehouse.ts, in order', () => {
    expect(infraTables.warehouseTableNames).toEqual(warehouseTableNames);
  });
});
