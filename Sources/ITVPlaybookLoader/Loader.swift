import ITVCore
/// Reads playbooks, inventories and the daemon config.
public enum ITVPlaybookLoaderModule {}
