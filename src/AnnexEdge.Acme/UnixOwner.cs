using System.Runtime.InteropServices;

namespace AnnexEdge.Acme;

/// <summary>
/// Who owns a path, on Linux (.NET has no API for it). statx(2) is used because its buffer has one layout on every
/// architecture, unlike stat(2)'s.
/// </summary>
internal static class UnixOwner
{
    private const int AtFdCwd = -100;
    private const uint StatxUid = 0x8;
    private const int UidOffset = 20;

    /// <summary>The effective user id of this process, or null where it is not known (not Linux).</summary>
    public static uint? Effective => OperatingSystem.IsLinux() ? NativeMethods.GetEffectiveUserId() : null;

    /// <summary>The owner's user id (of a link's target), or null where it cannot be told.</summary>
    public static uint? Of(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var buffer = new byte[256];
        try
        {
            return NativeMethods.Statx(AtFdCwd, path, 0, StatxUid, buffer) == 0 ? BitConverter.ToUInt32(buffer, UidOffset) : null;
        }
        catch (EntryPointNotFoundException)
        {
            // A C library older than glibc 2.28 or musl 1.2.5: no statx.
            return null;
        }
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "statx", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Statx(int dirfd, string path, int flags, uint mask, [Out] byte[] buffer);

        [DllImport("libc", EntryPoint = "geteuid")]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern uint GetEffectiveUserId();
    }
}
