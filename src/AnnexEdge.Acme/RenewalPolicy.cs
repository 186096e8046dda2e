using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.Acme;

/// <summary>When to renew, and how long to wait after a failure.</summary>
public sealed class RenewalPolicy(TimeSpan? renewBefore)
{
    /// <summary>Longest wait between two looks at the certificate, so other processes' renewals are picked up.</summary>
    public static readonly TimeSpan MaxCheckInterval = TimeSpan.FromHours(12);

    private static readonly TimeSpan FirstBackoff = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromHours(6);

    /// <summary>The configured point, or when one third of the lifetime remains (Let's Encrypt's recommendation, also used when RenewBefore is not shorter than the lifetime).</summary>
    public DateTimeOffset RenewAt(X509Certificate2 certificate)
    {
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        var lifetime = notAfter - notBefore;
        // A RenewBefore as long as the lifetime would make every new certificate due at once: renewal in a loop.
        var before = renewBefore is { } configured && configured < lifetime ? configured : lifetime / 3;
        return notAfter - before;
    }

    /// <summary>
    /// The renewal time given RFC 9773 renewal information: a uniformly random point of the suggested window
    /// (RFC 9773 §4.2), or now when the window has already begun; without a window, <see cref="RenewAt(System.Security.Cryptography.X509Certificates.X509Certificate2)"/>.
    /// </summary>
    public DateTimeOffset RenewAt(X509Certificate2 certificate, RenewalInfo? info, DateTimeOffset now, Random random)
    {
        if (info is null || info.WindowEnd < info.WindowStart)
        {
            return RenewAt(certificate);
        }

        if (info.WindowStart <= now)
        {
            return now;
        }

        var span = info.WindowEnd - info.WindowStart;
        return info.WindowStart + span * random.NextDouble();
    }

    /// <summary>Exponential backoff from one minute, capped at six hours, with ±50% jitter so processes spread out.</summary>
    public static TimeSpan Backoff(int failures, Random random)
    {
        var exponent = Math.Min(Math.Max(failures - 1, 0), 20);
        var delay = FirstBackoff * Math.Pow(2, exponent);
        if (delay > MaxBackoff)
        {
            delay = MaxBackoff;
        }

        return delay * (0.5 + random.NextDouble());
    }
}
