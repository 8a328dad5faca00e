using System.Runtime.InteropServices;

namespace UFork.Spawning;

/// <summary>
/// The few libc calls Mono.Posix does not offer: posix_spawn (which runs no managed code in the
/// child), pipe2 with O_CLOEXEC (atomic, so no other thread's child inherits our pipes), pidfd_open
/// (so a process exit is an event on a file descriptor, not something to poll for), gettid and prctl,
/// FIONREAD on a pipe, and open file description locks (F_OFD_SETLK: owned by an open file, not by a
/// process, which Mono.Posix's fcntl does not offer).
/// </summary>
internal static unsafe class Libc
{
    public const int O_CLOEXEC = 0x80000;
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int F_SETPIPE_SZ = 1031;
    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;
    public const short POSIX_SPAWN_SETPGROUP = 0x02;
    public const short POSIX_SPAWN_SETSID = 0x80;
    public const int O_RDONLY = 0;
    private const long SYS_pidfd_open = 434;
    public const int PR_SET_CHILD_SUBREAPER = 36;

    // glibc's opaque types are 80 and 336 bytes on x86-64 and arm64; 1 KiB leaves room for any libc.
    public const int OpaqueStructSize = 1024;

    [DllImport("libc", SetLastError = true)]
    public static extern int pipe2(int* fds, int flags);

    [DllImport("libc", SetLastError = true)]
    public static extern int fcntl(int fd, int cmd, int arg);

    [DllImport("libc", SetLastError = true)]
    public static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    public static extern nint read(int fd, byte* buffer, nint count);

    [DllImport("libc", SetLastError = true)]
    public static extern nint write(int fd, byte* buffer, nint count);

    public const int F_OFD_SETLK = 37;
    public const short F_WRLCK = 1;
    public const short SEEK_SET = 0;

    /// <summary>struct flock, as glibc lays it out on 64-bit Linux.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length; // 0: to the end of the file, however long it grows
        public int Pid; // 0 for open file description locks
    }

    [DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static extern int fcntl_lock(int fd, int cmd, Flock* lockSpec);

    [DllImport("libc", SetLastError = true)]
    private static extern long syscall(long number, int pid, uint flags);

    public const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    public struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    public static extern int getrlimit(int resource, out Rlimit limit);

    /// <summary>A pidfd for <paramref name="pid"/>, or -1 with errno set.</summary>
    public static int PidfdOpen(int pid) => (int)syscall(SYS_pidfd_open, pid, 0);

    private const ulong FIONREAD = 0x541B;

    [DllImport("libc", SetLastError = true)]
    private static extern int ioctl(int fd, ulong request, out int count);

    /// <summary>Bytes written into a pipe and not read yet; 0 when it cannot tell (the pipe is closed).</summary>
    public static int UnreadBytes(SafeHandle pipe)
    {
        var added = false;
        try
        {
            pipe.DangerousAddRef(ref added);
            return ioctl((int)pipe.DangerousGetHandle(), FIONREAD, out var count) == 0 ? count : 0;
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
        finally
        {
            if (added)
                pipe.DangerousRelease();
        }
    }

    [DllImport("libc", SetLastError = true)]
    public static extern int gettid();

    [DllImport("libc", SetLastError = true)]
    public static extern int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [DllImport("libc")]
    public static extern int posix_spawn(out int pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);

    [DllImport("libc")]
    public static extern int posix_spawn_file_actions_init(void* actions);

    [DllImport("libc")]
    public static extern int posix_spawn_file_actions_destroy(void* actions);

    [DllImport("libc")]
    public static extern int posix_spawn_file_actions_adddup2(void* actions, int fd, int newFd);

    [DllImport("libc")]
    public static extern int posix_spawn_file_actions_addopen(void* actions, int fd, byte* path, int flags, uint mode);

    [DllImport("libc")]
    public static extern int posix_spawnattr_init(void* attr);

    [DllImport("libc")]
    public static extern int posix_spawnattr_destroy(void* attr);

    [DllImport("libc")]
    public static extern int posix_spawnattr_setflags(void* attr, short flags);

    [DllImport("libc")]
    public static extern int posix_spawnattr_setpgroup(void* attr, int pgroup);

    [DllImport("libc")]
    public static extern int posix_spawnattr_setsigmask(void* attr, void* sigset);

    [DllImport("libc")]
    public static extern int posix_spawnattr_setsigdefault(void* attr, void* sigset);

    [DllImport("libc")]
    public static extern int sigemptyset(void* set);

    [DllImport("libc")]
    public static extern int sigaddset(void* set, int signal);

    /// <summary>
    /// Asks the kernel for a pipe of at least <paramref name="bytes"/>; false when it says no (an
    /// unprivileged user past fs.pipe-user-pages-soft, or above fs.pipe-max-size), and the pipe keeps its size.
    /// </summary>
    public static bool TryResizePipe(SafeHandle pipe, int bytes)
    {
        var added = false;
        try
        {
            pipe.DangerousAddRef(ref added);
            return fcntl((int)pipe.DangerousGetHandle(), F_SETPIPE_SZ, bytes) >= bytes;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
                pipe.DangerousRelease();
        }
    }

    public static (int Read, int Write) Pipe()
    {
        var fds = stackalloc int[2];
        if (pipe2(fds, O_CLOEXEC) != 0)
            throw new IOException($"pipe2: {PosixError.DescribeLast()}");
        return (fds[0], fds[1]);
    }
}
