using Mono.Unix.Native;
using UFork.Configuration;

namespace UFork.Control;

/// <summary>Where an arbiter's control socket is, decided the same way by the arbiter and by <c>ufork ctl</c>.</summary>
public static class ControlSocketPath
{
    /// <summary>
    /// <c>$XDG_RUNTIME_DIR/ufork.sock</c> (a directory only the user can enter), else <c>/tmp/ufork-UID.sock</c>.
    /// </summary>
    public static string Default =>
        Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime
            ? Path.Combine(runtime, "ufork.sock")
            : $"/tmp/ufork-{Syscall.getuid()}.sock";

    public static string BesidePidFile(string pidFile) => pidFile + ".sock";

    /// <summary>
    /// The arbiter's socket: the one given; else beside the pidfile; else, for a daemon, which has no
    /// terminal and so needs a door, the default; else none (the foreground has the terminal and signals).
    /// </summary>
    public static string? For(DaemonSettings daemon) =>
        daemon.ControlSocket
        ?? (daemon.PidFile is { } pidFile ? BesidePidFile(pidFile) : null)
        ?? (daemon.Detach ? Default : null);

    /// <summary>The socket a client talks to: the one given; else beside the given pidfile; else the default.</summary>
    public static string ForClient(string? controlSocket, string? pidFile) =>
        controlSocket ?? (pidFile is not null ? BesidePidFile(pidFile) : Default);
}
