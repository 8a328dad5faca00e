using Mono.Unix.Native;

namespace UFork.Spawning;

/// <summary>How a process ended: an exit code, or the signal that killed it.</summary>
public readonly record struct ExitStatus(int? Code, Signum? Signal)
{
    public static ExitStatus FromWaitStatus(int status) =>
        Syscall.WIFSIGNALED(status)
            ? new ExitStatus(null, Syscall.WTERMSIG(status))
            : new ExitStatus(Syscall.WEXITSTATUS(status), null);

    public static ExitStatus Unknown { get; } = new(null, null);

    /// <summary>As a person reads it once: "killed by SIGKILL", "exited with status 1", "exited with status 70 (EX_SOFTWARE)".</summary>
    public override string ToString() => (Code, Signal) switch
    {
        (_, { } signal) => $"killed by {signal}",
        ({ } code, _) => SysexitsName(code) is { } name ? $"exited with status {code} ({name})" : $"exited with status {code}",
        _ => "unknown status (reaped elsewhere)",
    };

    private static string? SysexitsName(int code) => code switch
    {
        64 => "EX_USAGE", 65 => "EX_DATAERR", 66 => "EX_NOINPUT", 67 => "EX_NOUSER",
        68 => "EX_NOHOST", 69 => "EX_UNAVAILABLE", 70 => "EX_SOFTWARE", 71 => "EX_OSERR",
        72 => "EX_OSFILE", 73 => "EX_CANTCREAT", 74 => "EX_IOERR", 75 => "EX_TEMPFAIL",
        76 => "EX_PROTOCOL", 77 => "EX_NOPERM", 78 => "EX_CONFIG",
        126 => "not executable", 127 => "command not found",
        _ => null,
    };
}
