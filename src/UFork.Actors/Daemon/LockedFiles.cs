using System.Runtime.InteropServices;
using Mono.Unix;
using Mono.Unix.Native;
using UFork.Hosting;
using UFork.Spawning;

namespace UFork.Daemon;

/// <summary>
/// Files an arbiter locks for its whole life (the pidfile, the control socket's lock), often as root in a
/// directory others can write: never opened through a symbolic link or as anything but a regular file,
/// locked exclusively without waiting, and a lock counts only while the path still names the locked file,
/// since a holder letting go removes the file and a later claimer may create it anew.
/// </summary>
internal static unsafe class LockedFiles
{
    private const OpenFlags Safely = OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC | OpenFlags.O_NONBLOCK;

    /// <summary>
    /// Opens the regular file at <paramref name="path"/> (creating it with <paramref name="mode"/> when
    /// <paramref name="flags"/> has O_CREAT); -1 when there is none and none was to be created.
    /// </summary>
    /// <param name="what">What the file is for, to name it in the error: "pidfile".</param>
    /// <exception cref="ArbiterStartException">Something other than a regular file is there, or it cannot be opened.</exception>
    public static int OpenRegular(string path, OpenFlags flags, FilePermissions mode, string what)
    {
        // Looked at before opening too: opening a device or a FIFO can have effects of its own.
        if (Syscall.lstat(path, out var named) == 0)
            RequireRegular(named, path, what);
        var fd = Syscall.open(path, flags | Safely, mode);
        if (fd < 0)
        {
            var error = Stdlib.GetLastError();
            if (error == Errno.ENOENT && (flags & OpenFlags.O_CREAT) == 0)
                return -1;
            throw new ArbiterStartException(error switch
            {
                Errno.ELOOP => $"{what} {path} is a symbolic link; refusing to follow it",
                Errno.EISDIR => $"{what} {path} is a directory",
                Errno.ENOENT => $"cannot open {what} {path}: {Path.GetDirectoryName(path)} does not exist",
                _ => $"cannot open {what} {path}: {UnixMarshal.GetErrorDescription(error)}",
            });
        }
        if (Syscall.fstat(fd, out var opened) != 0)
        {
            var error = Stdlib.GetLastError();
            Syscall.close(fd);
            throw new ArbiterStartException($"cannot open {what} {path}: {UnixMarshal.GetErrorDescription(error)}");
        }
        try
        {
            RequireRegular(opened, path, what);
        }
        catch
        {
            Syscall.close(fd);
            throw;
        }
        return fd;
    }

    /// <summary>True when this open file now holds the exclusive lock; false when another open file holds it.</summary>
    /// <remarks>
    /// An open file description lock (F_OFD_SETLK), not flock(2): it too belongs to the open file, so two
    /// opens conflict even in one process, and goes with its last fd; but .NET's FileStream takes
    /// flock(LOCK_SH) on every file it opens for reading (its FileShare emulation), so a pidfile held
    /// with flock could not be read by any .NET program, and a reader's moment could refuse a start.
    /// </remarks>
    /// <exception cref="ArbiterStartException">The file system cannot lock it.</exception>
    public static unsafe bool TryLock(int fd, string path, string what)
    {
        var whole = new Libc.Flock { Type = Libc.F_WRLCK, Whence = Libc.SEEK_SET };
        if (Libc.fcntl_lock(fd, Libc.F_OFD_SETLK, &whole) == 0)
            return true;
        var error = NativeConvert.ToErrno(Marshal.GetLastPInvokeError());
        if (error is Errno.EAGAIN or Errno.EACCES)
            return false;
        throw new ArbiterStartException($"cannot lock {what} {path}: {UnixMarshal.GetErrorDescription(error)}");
    }

    /// <summary>True when <paramref name="path"/> names the very file open at <paramref name="fd"/>: not removed, not replaced.</summary>
    public static bool IsStillAt(int fd, string path) =>
        Syscall.fstat(fd, out var opened) == 0
        && Syscall.lstat(path, out var named) == 0
        && named.st_dev == opened.st_dev
        && named.st_ino == opened.st_ino;

    private static void RequireRegular(Stat stat, string path, string what)
    {
        var type = stat.st_mode & FilePermissions.S_IFMT;
        if (type == FilePermissions.S_IFREG)
            return;
        throw new ArbiterStartException(type switch
        {
            FilePermissions.S_IFDIR => $"{what} {path} is a directory",
            FilePermissions.S_IFLNK => $"{what} {path} is a symbolic link; refusing to follow it",
            _ => $"{what} {path} exists and is not a regular file",
        });
    }
}
