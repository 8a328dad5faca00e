using System.Runtime.InteropServices;

namespace UFork.Spawning;

/// <summary>
/// Starts a process with posix_spawn: no managed code runs in the child (.NET cannot fork safely),
/// stdin is /dev/null, stdout and stderr are fresh pipes, <see cref="ProcessSpec.InheritedFds"/> land at
/// fds 3, 4, ..., every signal is reset to its default (the runtime ignores SIGPIPE, and exec would
/// pass that on), and the child leads a process group of its own, so a terminal's Ctrl-C reaches only the
/// arbiter. It stays in the arbiter's session: Linux schedules each session as one group (autogroup), and
/// a fleet split into a session per worker would take CPU from everything else on the machine, a load
/// generator on the same host included.
/// </summary>
internal static unsafe class PosixSpawner
{
    public readonly record struct Spawned(int Pid, int StdoutFd, int StderrFd);

    public static Spawned Spawn(ProcessSpec spec)
    {
        var stdout = Libc.Pipe();
        var stderr = Libc.Pipe();
        var movedFds = MoveAboveTargets(spec.InheritedFds);
        var actions = NativeMemory.AllocZeroed(Libc.OpaqueStructSize);
        var attr = NativeMemory.AllocZeroed(Libc.OpaqueStructSize);
        var sigset = NativeMemory.AllocZeroed(Libc.OpaqueStructSize);
        var strings = new List<IntPtr>();
        try
        {
            Libc.posix_spawn_file_actions_init(actions);
            var devNull = Utf8("/dev/null", strings);
            Check(Libc.posix_spawn_file_actions_addopen(actions, 0, devNull, Libc.O_RDONLY, 0), "addopen");
            Check(Libc.posix_spawn_file_actions_adddup2(actions, stdout.Write, 1), "adddup2");
            Check(Libc.posix_spawn_file_actions_adddup2(actions, stderr.Write, 2), "adddup2");
            for (var i = 0; i < movedFds.Count; i++)
                Check(Libc.posix_spawn_file_actions_adddup2(actions, movedFds[i], 3 + i), "adddup2");

            Libc.posix_spawnattr_init(attr);
            var detach = spec.NewSession ? Libc.POSIX_SPAWN_SETSID : Libc.POSIX_SPAWN_SETPGROUP;
            Check(Libc.posix_spawnattr_setflags(attr,
                (short)(detach | Libc.POSIX_SPAWN_SETSIGMASK | Libc.POSIX_SPAWN_SETSIGDEF)), "setflags");
            Check(Libc.posix_spawnattr_setpgroup(attr, 0), "setpgroup"); // 0: a group named after the child
            Libc.sigemptyset(sigset);
            Check(Libc.posix_spawnattr_setsigmask(attr, sigset), "setsigmask");
            for (var signal = 1; signal < 32; signal++)
                if (signal is not (9 or 19)) // SIGKILL and SIGSTOP cannot be changed
                    Libc.sigaddset(sigset, signal);
            Check(Libc.posix_spawnattr_setsigdefault(attr, sigset), "setsigdefault");

            var argv = NullTerminated(spec.Arguments.Prepend(spec.FileName), strings);
            var envp = NullTerminated(MergedEnvironment(spec.Environment), strings);
            try
            {
                var error = Libc.posix_spawn(out var pid, Utf8(spec.FileName, strings), actions, attr, argv, envp);
                if (error != 0)
                    throw new IOException($"cannot start {spec.FileName}: {Marshal.GetPInvokeErrorMessage(error)}");
                return new Spawned(pid, stdout.Read, stderr.Read);
            }
            finally
            {
                NativeMemory.Free(argv);
                NativeMemory.Free(envp);
            }
        }
        catch
        {
            Libc.close(stdout.Read);
            Libc.close(stderr.Read);
            throw;
        }
        finally
        {
            Libc.close(stdout.Write);
            Libc.close(stderr.Write);
            for (var i = 0; i < movedFds.Count; i++)
                if (movedFds[i] != spec.InheritedFds[i])
                    Libc.close(movedFds[i]);
            Libc.posix_spawn_file_actions_destroy(actions);
            Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            foreach (var s in strings) Marshal.FreeCoTaskMem(s);
        }
    }

    /// <summary>
    /// dup2 file actions run in order, so a source fd that is also a target number would be overwritten
    /// before it is copied; sources below the target range are first copied above it.
    /// </summary>
    private static List<int> MoveAboveTargets(IReadOnlyList<int> fds)
    {
        var firstFree = 3 + fds.Count;
        return fds.Select(fd => fd >= firstFree ? fd : Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, firstFree)).ToList();
    }

    private static IEnumerable<string> MergedEnvironment(IReadOnlyDictionary<string, string> additions)
    {
        var merged = new Dictionary<string, string>();
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
            merged[(string)entry.Key] = (string?)entry.Value ?? "";
        foreach (var (key, value) in additions)
            merged[key] = value;
        return merged.Select(kv => $"{kv.Key}={kv.Value}");
    }

    private static byte* Utf8(string value, List<IntPtr> owned)
    {
        var ptr = Marshal.StringToCoTaskMemUTF8(value);
        owned.Add(ptr);
        return (byte*)ptr;
    }

    private static byte** NullTerminated(IEnumerable<string> values, List<IntPtr> owned)
    {
        var list = values.ToList();
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(list.Count + 1), (nuint)sizeof(byte*));
        for (var i = 0; i < list.Count; i++)
            array[i] = Utf8(list[i], owned);
        return array;
    }

    private static void Check(int error, string call)
    {
        if (error != 0)
            throw new IOException($"posix_spawn {call} failed: {Marshal.GetPInvokeErrorMessage(error)}");
    }
}
