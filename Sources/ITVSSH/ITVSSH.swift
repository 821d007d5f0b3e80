/// The SSH adapter on libssh2.
public enum ITVSSHModule {}
