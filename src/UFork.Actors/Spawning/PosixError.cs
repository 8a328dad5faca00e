using System.Runtime.InteropServices;
using Mono.Unix.Native;

namespace UFork.Spawning;

/// <summary>An errno as one line a person can act on: "too many open files (EMFILE)".</summary>
internal static class PosixError
{
    public static string Describe(int errno)
    {
        var message = Marshal.GetPInvokeErrorMessage(errno);
        var sentence = message.Length > 0 ? char.ToLowerInvariant(message[0]) + message[1..] : "error";
        return NativeConvert.TryToErrno(errno, out var name) ? $"{sentence} ({name})" : $"{sentence} (errno {errno})";
    }

    /// <summary>The errno of the last P/Invoke marked SetLastError (Mono.Posix's calls included).</summary>
    public static string DescribeLast() => Describe(Marshal.GetLastPInvokeError());
}
