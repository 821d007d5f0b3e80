/// The release-feed adapter: fetching on libcurl, parsers for every feed kind.
public enum ITVFeedsModule {}
