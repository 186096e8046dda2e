using System.Runtime.InteropServices;

namespace AnnexEdge.Hosting;

/// <summary>
/// SIGHUP reloads the config (<see cref="ConfigReload"/>), also for an edge started under <c>nohup</c> or by a
/// supervisor that ignores SIGHUP: .NET keeps a signal ignored that was ignored when the process started, so the
/// edge's handler would never run and an operator's <c>kill -HUP</c> would do nothing, silently. Reload is a safe
/// answer to a terminal's hangup too (nothing changed: "nothing to reload"), which is all <c>nohup</c> asks for.
/// </summary>
internal static class HangupSignal
{
    private const int Sighup = 1;
    private static readonly nint Default = 0;
    private static readonly nint Ignore = 1;

    /// <summary>Undoes an inherited "ignore SIGHUP" so that a handler registered next is installed; any other disposition stays.</summary>
    public static void StopIgnoring()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var previous = Signal(Sighup, Default);
        if (previous != Ignore)
        {
            Signal(Sighup, previous);
        }
    }

    // DllImport, not LibraryImport: the latter needs unsafe code in the whole project for this one blittable call.
    [DllImport("libc", EntryPoint = "signal")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern nint Signal(int signal, nint handler);
}
