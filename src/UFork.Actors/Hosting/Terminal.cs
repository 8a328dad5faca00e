using Mono.Unix.Native;

namespace UFork.Hosting;

/// <summary>Whether a person is at a terminal that the <c>ufork&gt;</c> prompt may take over, and whether it is ours now.</summary>
internal static class Terminal
{
    private static readonly int[] StandardFds = [0, 1, 2];

    /// <summary>
    /// stdin and stdout are a terminal, and this process is in its foreground: a daemon, CI, a pipe or
    /// /dev/null get no prompt, and neither does <c>ufork run ... &amp;</c>, which the terminal would stop
    /// (SIGTTIN) the moment it read a key.
    /// </summary>
    public static bool IsInteractive =>
        !Console.IsInputRedirected && !Console.IsOutputRedirected && tcgetpgrp(0) == getpgrp();

    /// <summary>
    /// Some standard fd is this process's controlling terminal, and another process group has its
    /// foreground (a shell's <c>bg</c>, or <c>&amp;</c>): reading it, or changing its settings, would make
    /// the kernel send this process TTIN or TTOU. tcgetpgrp fails on anything else (a file, a pipe, a
    /// terminal that is not the controlling one, or none at all, as in a daemon).
    /// </summary>
    public static bool InBackground
    {
        get
        {
            var ours = getpgrp();
            foreach (var fd in StandardFds)
                if (tcgetpgrp(fd) is > 0 and var foreground)
                    return foreground != ours;
            return false;
        }
    }

    private static int tcgetpgrp(int fd) => Syscall.tcgetpgrp(fd);

    private static int getpgrp() => Syscall.getpgid(0);
}
