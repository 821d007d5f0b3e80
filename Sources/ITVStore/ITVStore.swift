/// The SQLite state store (the rollout engine issue fills this in).
public enum ITVStoreModule {}
