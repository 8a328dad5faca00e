using System.Runtime.InteropServices;

namespace UFork.Sockets;

/// <summary>
/// The socket calls that .NET's Socket class would make, made directly: a Socket object owns its fd and,
/// disposed with an operation pending, sets SO_LINGER {1,0} on it; a raw fd that the arbiter only holds has
/// no such side effects on the socket every worker shares.
/// </summary>
internal static unsafe class SocketLibc
{
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int AF_UNIX = 1;
    public const int EADDRINUSE = 98;

    [DllImport("libc", SetLastError = true)]
    public static extern int socket(int domain, int type, int protocol);

    [DllImport("libc", SetLastError = true)]
    public static extern int setsockopt(int fd, int level, int name, int* value, int length);

    [DllImport("libc", SetLastError = true)]
    public static extern int bind(int fd, byte* address, int length);

    [DllImport("libc", SetLastError = true)]
    public static extern int listen(int fd, int backlog);

    [DllImport("libc", SetLastError = true)]
    public static extern int getsockname(int fd, byte* address, int* length);
}
