using Mono.Unix;
using Mono.Unix.Native;
using UFork.Hosting;

namespace UFork.Control;

/// <summary>
/// The directory of the default control socket, which must be this user's alone: created with mode 0700,
/// or, if it is there already, a real directory (not a symlink) owned by this user with no group or
/// other permissions. Anything else may be another user's trap (in /tmp, anyone can make the name
/// first), and is refused.
/// </summary>
internal static class PrivateDirectory
{
    private const FilePermissions GroupOrOther = FilePermissions.S_IRWXG | FilePermissions.S_IRWXO;

    /// <exception cref="ArbiterStartException">It cannot be made, or what is there is not private to this user.</exception>
    public static void Ensure(string path)
    {
        if (Syscall.mkdir(path, FilePermissions.S_IRWXU) != 0 && Stdlib.GetLastError() is var error && error != Errno.EEXIST)
            throw new ArbiterStartException($"cannot create control socket directory {path}: {UnixMarshal.GetErrorDescription(error)}");
        if (Syscall.lstat(path, out var stat) != 0)
            throw new ArbiterStartException($"cannot use control socket directory {path}: {UnixMarshal.GetErrorDescription(Stdlib.GetLastError())}");
        var ownUid = Syscall.geteuid();
        var problem =
            (stat.st_mode & FilePermissions.S_IFMT) != FilePermissions.S_IFDIR ? "is not a directory (a symbolic link?)"
            : stat.st_uid != ownUid ? $"is owned by uid {stat.st_uid}, not by uid {ownUid}"
            : (stat.st_mode & GroupOrOther) != 0 ? $"is open to others (mode {Convert.ToString((int)(stat.st_mode & FilePermissions.ALLPERMS), 8)}; it must be 700)"
            : null;
        if (problem is not null)
            throw new ArbiterStartException($"refusing control socket directory {path}: it {problem}");
    }
}
