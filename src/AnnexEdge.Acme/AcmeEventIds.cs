namespace AnnexEdge.Acme;

/// <summary>
/// Stable event ids of automatic HTTPS, the 5000 range of AnnexEdge's event ids (Logging/EdgeEventIds.cs):
/// operators alert on them, so never renumber.
/// </summary>
public static class AcmeEventIds
{
    public const int CertificateLoaded = 5000;
    public const int OrderStarted = 5001;
    public const int ChallengePrepared = 5002;
    public const int CertificateIssued = 5003;
    public const int OrderFailed = 5004;
    public const int BadNonceRetried = 5005;
    public const int RenewalScheduled = 5006;
    public const int RenewalInfoFailed = 5007;
    public const int WaitingForOtherProcess = 5008;
    public const int CertificatePickedUp = 5009;
    public const int AccountReady = 5010;
    public const int FallbackCertificate = 5011;
    public const int StoreMadePrivate = 5012;
}
