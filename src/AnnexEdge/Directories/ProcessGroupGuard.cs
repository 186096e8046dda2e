using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using AnnexEdge.Logging;

namespace AnnexEdge.Directories;

/// <summary>
/// Ends a process group the edge started (a managed p2phttp and the git processes it runs) when the edge is gone,
/// however it ended: SIGKILL, a crash, the out-of-memory killer. A small shell in a session of its own (so a signal
/// to the edge's process group, such as <c>kill -9 %1</c> in a shell, does not reach it) blocks reading a pipe whose
/// only writer is the edge. The kernel closes the edge's end when the edge ends, whatever the cause, so end of file
/// means the edge is gone: the shell sends the group SIGTERM, and SIGKILL after a grace. While the edge lives it
/// never closes that end: it kills the guard once the group's leader has exited.
/// Not PR_SET_PDEATHSIG: it fires when the thread that started the child ends, and thread-pool threads come and go.
/// Not a pid file read at start-up: the pipe keeps no state to go stale, and a restarted edge finds nothing left.
/// </summary>
internal sealed partial class ProcessGroupGuard : IAsyncDisposable
{
    // $1 the group, $2 the grace in seconds. Ignores the signals a terminal or a stop of the edge's group sends: only
    // end of file (or SIGKILL from the edge) ends it. Its output goes nowhere: inherited, it would hold the edge's
    // output (a pipe to a journal, a test's reader) open after the edge.
    private const string Script = """
        exec >/dev/null 2>&1
        trap '' HUP INT QUIT TERM
        while read -r _; do :; done
        kill -TERM "-$1" || exit 0
        i=0
        while [ "$i" -lt "$2" ] && kill -0 "-$1"; do sleep 1; i=$((i + 1)); done
        kill -KILL "-$1"
        exit 0
        """;

    private readonly Process _shell;
    private readonly ILogger _logger;
    private readonly string _directory;
    private readonly int _group;
    private int _disposed;

    private ProcessGroupGuard(Process shell, ILogger logger, string directory, int group)
    {
        _shell = shell;
        _logger = logger;
        _directory = directory;
        _group = group;
    }

    /// <summary>
    /// Guards <paramref name="group"/> (a session leader's pid, from <c>setsid</c>) of the p2phttp of
    /// <paramref name="directory"/>; null, and an error logged, when the guard cannot be run.
    /// </summary>
    public static ProcessGroupGuard? Start(int group, TimeSpan grace, string directory, ILogger logger)
    {
        var info = new ProcessStartInfo("setsid") { RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in (string[])["/bin/sh", "-c", Script, "annexedge-guard",
            group.ToString(CultureInfo.InvariantCulture), ((int)Math.Ceiling(grace.TotalSeconds)).ToString(CultureInfo.InvariantCulture)])
        {
            info.ArgumentList.Add(argument);
        }

        var shell = new Process { StartInfo = info, EnableRaisingEvents = true };
        try
        {
            shell.Start();
        }
        catch (Win32Exception e)
        {
            Log.CannotGuard(logger, directory, group, e.Message);
            shell.Dispose();
            return null;
        }

        var guard = new ProcessGroupGuard(shell, logger, directory, group);
        shell.Exited += (_, _) => guard.Ended();
        return guard;
    }

    /// <summary>After the group's leader exited: the guard is killed (closing its pipe would make it signal the group).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        try
        {
            _shell.Kill();
        }
        catch (InvalidOperationException)
        {
            // It has ended already (Ended said so).
        }

        await _shell.WaitForExitAsync(CancellationToken.None);
        _shell.StandardInput.Dispose();
        _shell.Dispose();
    }

    private void Ended()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            Log.GuardEnded(_logger, _directory, _group, _shell.ExitCode);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ManagedCannotGuard, LogLevel.Error, "Cannot guard the p2phttp of {Directory} (process group {Group}): {Reason}; it runs, but would outlive the edge if the edge were killed")]
        public static partial void CannotGuard(ILogger logger, string directory, int group, string reason);

        [LoggerMessage(EdgeEventIds.ManagedGuardEnded, LogLevel.Warning, "The guard of the p2phttp of {Directory} (process group {Group}) ended with code {ExitCode} while the edge runs: that p2phttp would outlive the edge if the edge were killed (until it is restarted or replaced)")]
        public static partial void GuardEnded(ILogger logger, string directory, int group, int exitCode);
    }
}
