using Mono.Unix.Native;
using UFork.Configuration;

namespace UFork.Control;

/// <summary>Where an arbiter's control socket is, decided the same way by the arbiter and by <c>ufork ctl</c>.</summary>
public static class ControlSocketPath
{
    private const string DefaultName = "control.sock";

    /// <summary>
    /// The directory of the default socket, one only its user may enter (see <see cref="PrivateDirectory"/>):
    /// <c>$XDG_RUNTIME_DIR/ufork</c>; else <c>/run/ufork-UID</c> where this user may write /run (root); else
    /// <c>/tmp/ufork-UID</c>. Never a socket straight in a shared directory, where anyone could take the name first.
    /// </summary>
    public static string DefaultDirectory =>
        Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime
            ? Path.Combine(runtime, "ufork")
            : Syscall.access("/run", AccessModes.W_OK) == 0
                ? $"/run/ufork-{Syscall.geteuid()}"
                : $"/tmp/ufork-{Syscall.geteuid()}";

    /// <summary><c>control.sock</c> in <see cref="DefaultDirectory"/>.</summary>
    public static string Default => Path.Combine(DefaultDirectory, DefaultName);

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
