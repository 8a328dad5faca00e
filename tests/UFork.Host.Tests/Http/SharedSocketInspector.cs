using System.Runtime.InteropServices;

namespace UFork.Host.Tests.Http;

/// <summary>
/// Reads options of the listening socket every worker shares, through a copy of a worker's fd 3 taken
/// with pidfd_getfd(2) (allowed to an ancestor of the process, or to root).
/// </summary>
internal static unsafe class SharedSocketInspector
{
    private const long SysPidfdOpen = 434;
    private const long SysPidfdGetfd = 438;
    private const int SolSocket = 1;
    private const int SoLinger = 13;
    private const int IpprotoTcp = 6;
    private const int TcpInfo = 11;
    private const int TcpInfoSackedOffset = 28; // struct tcp_info.tcpi_sacked: a listener's backlog

    /// <summary>SO_LINGER {1,0} left on a shared socket makes every worker's connections close with a reset.</summary>
    public static bool LingerIsOn(int workerPid) => Inspect(workerPid, fd =>
    {
        var linger = stackalloc int[2];
        var length = 2 * sizeof(int);
        Check(getsockopt(fd, SolSocket, SoLinger, linger, &length), "getsockopt(SO_LINGER)");
        return linger[0] != 0;
    });

    /// <summary>The listen(2) backlog, which Linux reports for a listening socket in tcpi_sacked.</summary>
    public static int Backlog(int workerPid) => Inspect(workerPid, fd =>
    {
        var info = stackalloc byte[256];
        var length = 256;
        Check(getsockopt(fd, IpprotoTcp, TcpInfo, info, &length), "getsockopt(TCP_INFO)");
        return *(int*)(info + TcpInfoSackedOffset);
    });

    private static T Inspect<T>(int pid, Func<int, T> read)
    {
        var pidfd = (int)syscall(SysPidfdOpen, pid, 0, 0);
        Check(pidfd, "pidfd_open");
        try
        {
            var fd = (int)syscall(SysPidfdGetfd, pidfd, 3, 0);
            Check(fd, "pidfd_getfd");
            try
            {
                return read(fd);
            }
            finally
            {
                close(fd);
            }
        }
        finally
        {
            close(pidfd);
        }
    }

    private static void Check(int result, string call)
    {
        if (result < 0)
            throw new IOException($"{call} failed: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    [DllImport("libc", SetLastError = true)]
    private static extern long syscall(long number, long a, long b, long c);

    [DllImport("libc", SetLastError = true)]
    private static extern int getsockopt(int fd, int level, int name, void* value, int* length);

    [DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);
}
