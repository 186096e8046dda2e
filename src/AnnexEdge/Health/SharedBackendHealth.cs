using AnnexEdge.Routing;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Health;

/// <summary>What one probe of a shared backend says.</summary>
internal enum ProbeVerdict
{
    /// <summary>It answered 2xx: the backend is live and serves repositories.</summary>
    Up,

    /// <summary>No answer in time, or a failure status for a repository still served: a failure, as YARP counts one.</summary>
    Down,

    /// <summary>
    /// A failure status for a repository removed from the catalog while it was probed: says nothing about the backend,
    /// so it is asked again with a repository that is served.
    /// </summary>
    Stale,
}

/// <summary>
/// The active health of one backend address shared by repositories of directories, decided as YARP's
/// <c>ConsecutiveFailures</c> policy decides it for a destination: healthy at a success, unhealthy after
/// <c>FailureThreshold</c> failures in a row, and unchanged by fewer. Also which repository's UUID the probe asks for.
/// </summary>
internal sealed class SharedBackendHealth
{
    private int _failures;

    /// <summary>The health every repository's destination at this address gets; Unknown until a probe decided.</summary>
    public DestinationHealth Decided { get; private set; } = DestinationHealth.Unknown;

    /// <summary>The UUID probed last, kept while it is served so every probe asks the same repository.</summary>
    public string? ProbedUuid { get; private set; }

    /// <summary>
    /// The repository to probe: the one probed last while it is among <paramref name="sharing"/>, else the first (a
    /// repository that came with a rescan is no better a sign of the backend than one it has served for long).
    /// </summary>
    public Repository Choose(IReadOnlyList<Repository> sharing)
    {
        var chosen = ProbedUuid is { } last ? sharing.FirstOrDefault(r => r.Uuid == last) ?? sharing[0] : sharing[0];
        ProbedUuid = chosen.Uuid;
        return chosen;
    }

    /// <param name="status">The probe's answer, or null when none came in time.</param>
    /// <param name="stillServed">Whether the probed repository is still in the catalog once the answer is in.</param>
    public static ProbeVerdict Judge(int? status, bool stillServed) => status switch
    {
        >= 200 and < 300 => ProbeVerdict.Up,
        null => ProbeVerdict.Down,
        _ => stillServed ? ProbeVerdict.Down : ProbeVerdict.Stale,
    };

    /// <summary>Counts a probe's verdict; true when <see cref="Decided"/> changed.</summary>
    public bool Report(ProbeVerdict verdict, int failureThreshold)
    {
        var was = Decided;
        switch (verdict)
        {
            case ProbeVerdict.Up:
                _failures = 0;
                Decided = DestinationHealth.Healthy;
                break;
            case ProbeVerdict.Down:
                if (++_failures >= failureThreshold)
                {
                    Decided = DestinationHealth.Unhealthy;
                }

                break;
            default:
                // Ask another repository next time.
                ProbedUuid = null;
                break;
        }

        return Decided != was;
    }
}
