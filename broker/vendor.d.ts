// aedes-persistence-level ships no types; it returns the same persistence object as aedes-persistence.
declare module 'aedes-persistence-level' {
  import type { Level } from 'level';
  function levelPersistence(db: Level<string, unknown>): unknown;
  export default levelPersistence;
}
