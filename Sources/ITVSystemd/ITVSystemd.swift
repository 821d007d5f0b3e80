/// systemd integration: journal log handler and sd_notify.
public enum ITVSystemdModule {}
