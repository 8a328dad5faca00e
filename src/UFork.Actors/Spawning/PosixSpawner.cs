using System.Runtime.InteropServices;
using Mono.Unix.Native;

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
    /// <summary>A started process: its pid, the read ends of its stdout and stderr, and its pidfd (or -1).</summary>
    public readonly record struct Spawned(int Pid, int StdoutFd, int StderrFd, int Pidfd);

    /// <summary>
    /// Starts <paramref name="spec"/>; with <paramref name="openPidfd"/>, also opens its pidfd at once, so that no
    /// started child is ever left without a way to learn of its exit (one that cannot be watched is killed and
    /// reaped). Every fd this opens is closed again on every failure.
    /// </summary>
    /// <exception cref="IOException">The process could not be started (one line, with the errno name).</exception>
    public static Spawned Spawn(ProcessSpec spec, bool openPidfd = false, SpawnWatchdog? watchdog = null)
    {
        var closeAfterSpawn = new List<int>(); // write ends and moved copies: the child holds its own by then
        var closeOnFailure = new List<int>();  // what is handed to the caller on success
        var actions = NativeMemory.AllocZeroed(Libc.OpaqueStructSize);
        var attr = NativeMemory.AllocZeroed(Libc.OpaqueStructSize);
        var sigset = NativeMemory.AllocZeroed(Libc.OpaqueStructSize);
        var strings = new List<IntPtr>();
        byte** argv = null, envp = null;
        bool actionsReady = false, attrReady = false;
        try
        {
            var stdout = Libc.Pipe();
            closeOnFailure.Add(stdout.Read);
            closeAfterSpawn.Add(stdout.Write);
            var stderr = Libc.Pipe();
            closeOnFailure.Add(stderr.Read);
            closeAfterSpawn.Add(stderr.Write);
            var movedFds = MoveAboveTargets(spec.InheritedFds, closeAfterSpawn);

            Check(Libc.posix_spawn_file_actions_init(actions), "file_actions_init");
            actionsReady = true;
            Check(Libc.posix_spawn_file_actions_addopen(actions, 0, Utf8(spec.StdinPath, strings), Libc.O_RDONLY, 0), "addopen");
            Check(Libc.posix_spawn_file_actions_adddup2(actions, stdout.Write, 1), "adddup2");
            Check(Libc.posix_spawn_file_actions_adddup2(actions, stderr.Write, 2), "adddup2");
            for (var i = 0; i < movedFds.Count; i++)
                Check(Libc.posix_spawn_file_actions_adddup2(actions, movedFds[i], 3 + i), "adddup2");

            Check(Libc.posix_spawnattr_init(attr), "attr_init");
            attrReady = true;
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

            argv = NullTerminated(spec.Arguments.Prepend(spec.FileName), strings);
            envp = NullTerminated(MergedEnvironment(spec.Environment), strings);
            var path = Utf8(spec.FileName, strings);

            watchdog?.Begin();
            int error, pid;
            string? killedBecause;
            try
            {
                error = Libc.posix_spawn(out pid, path, actions, attr, argv, envp);
            }
            finally
            {
                killedBecause = watchdog?.End();
            }
            if (killedBecause is not null)
            {
                if (error == 0) // glibc reports a child killed before exec as started
                    Reap(pid);
                throw new IOException($"cannot start {spec.FileName}: {killedBecause}");
            }
            if (error != 0)
                throw new IOException($"cannot start {spec.FileName}: posix_spawn: {DescribeSpawnError(error)}");

            var pidfd = -1;
            if (openPidfd && (pidfd = Libc.PidfdOpen(pid)) < 0)
            {
                var reason = PosixError.DescribeLast();
                Syscall.kill(pid, Signum.SIGKILL);
                Reap(pid);
                throw new IOException($"cannot start {spec.FileName}: pidfd_open: {reason}; pid {pid} could not be watched, so it was killed");
            }
            closeOnFailure.Clear();
            return new Spawned(pid, stdout.Read, stderr.Read, pidfd);
        }
        finally
        {
            foreach (var fd in closeOnFailure.Concat(closeAfterSpawn))
                Libc.close(fd);
            if (actionsReady)
                Libc.posix_spawn_file_actions_destroy(actions);
            if (attrReady)
                Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            NativeMemory.Free(argv);
            NativeMemory.Free(envp);
            foreach (var s in strings) Marshal.FreeCoTaskMem(s);
        }
    }

    /// <summary>clone's EAGAIN means a process limit, which strerror calls "resource temporarily unavailable".</summary>
    private static string DescribeSpawnError(int error) =>
        error == NativeConvert.FromErrno(Errno.EAGAIN)
            ? "too many processes (EAGAIN): RLIMIT_NPROC or the cgroup's pids.max is reached"
            : PosixError.Describe(error);

    /// <summary>Waits for a child known to be dead or dying; it is gone at once, and nothing else may reap it.</summary>
    private static void Reap(int pid)
    {
        while (Syscall.waitpid(pid, out _, 0) < 0 && Stdlib.GetLastError() == Errno.EINTR)
        {
        }
    }

    /// <summary>
    /// dup2 file actions run in order, so a source fd that is also a target number would be overwritten
    /// before it is copied; sources below the target range are first copied above it.
    /// </summary>
    private static List<int> MoveAboveTargets(IReadOnlyList<int> fds, List<int> copies)
    {
        var firstFree = 3 + fds.Count;
        var moved = new List<int>(fds.Count);
        foreach (var fd in fds)
        {
            if (fd >= firstFree)
            {
                moved.Add(fd);
                continue;
            }
            var copy = Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, firstFree);
            if (copy < 0)
                throw new IOException($"cannot hand fd {fd} to a child: fcntl(F_DUPFD_CLOEXEC): {PosixError.DescribeLast()}");
            copies.Add(copy);
            moved.Add(copy);
        }
        return moved;
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
            throw new IOException($"posix_spawn_{call}: {PosixError.Describe(error)}");
    }
}
