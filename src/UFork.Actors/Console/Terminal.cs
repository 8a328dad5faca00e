using System.Runtime.InteropServices;

namespace UFork.Prompt;

/// <summary>Whether a person is at a terminal that the <c>ufork&gt;</c> prompt may take over.</summary>
internal static class Terminal
{
    /// <summary>
    /// stdin and stdout are a terminal, and this process is in its foreground: a daemon, CI, a pipe or
    /// /dev/null get no prompt, and neither does <c>ufork run ... &amp;</c>, which the terminal would stop
    /// (SIGTTIN) the moment it read a key.
    /// </summary>
    public static bool IsInteractive =>
        !Console.IsInputRedirected && !Console.IsOutputRedirected && tcgetpgrp(0) == getpgrp();

    [DllImport("libc")]
    private static extern int tcgetpgrp(int fd);

    [DllImport("libc")]
    private static extern int getpgrp();
}
