namespace AnnexEdge.Acme;

/// <summary>How the last certificate order or renewal check ended: when, whether it worked, and the problem if not.</summary>
public sealed record RenewalOutcome(DateTimeOffset At, bool Succeeded, string? Problem);

/// <summary>The renewal service's last outcome, for metrics and the status page.</summary>
public sealed class RenewalState
{
    private volatile RenewalOutcome? _last;

    /// <summary>Null until the first order or check has ended.</summary>
    public RenewalOutcome? Last
    {
        get => _last;
        set => _last = value;
    }
}
