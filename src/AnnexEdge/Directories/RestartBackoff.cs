namespace AnnexEdge.Directories;

/// <summary>
/// How long to wait before starting a process again after it failed: <see cref="Initial"/>, doubling each time up to
/// <see cref="Max"/>, and back to <see cref="Initial"/> once a run lasted <see cref="StableAfter"/>. A process that
/// cannot start (a broken git-annex, a directory gone) is retried slowly instead of spinning; one that crashes once
/// after running for hours comes back at once.
/// </summary>
internal sealed class RestartBackoff(TimeSpan initial, TimeSpan max, TimeSpan stableAfter)
{
    private int _failures;

    public TimeSpan Initial => initial;

    public TimeSpan Max => max;

    public TimeSpan StableAfter => stableAfter;

    /// <summary>1 s doubling to 1 min; a run of 1 min counts as healthy.</summary>
    public static RestartBackoff Default() => new(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));

    /// <summary>The delay before the next start, after a run that lasted <paramref name="ranFor"/> (zero: it never ran).</summary>
    public TimeSpan Next(TimeSpan ranFor)
    {
        if (ranFor >= stableAfter)
        {
            _failures = 0;
        }

        // 2^20 times any sensible initial delay is past any sensible maximum: the exponent stops there.
        var delay = initial * Math.Pow(2, Math.Min(_failures, 20));
        _failures++;
        return delay < max ? delay : max;
    }

    /// <summary>After a start that succeeded: the next failure waits <see cref="Initial"/> again.</summary>
    public void Reset() => _failures = 0;
}
