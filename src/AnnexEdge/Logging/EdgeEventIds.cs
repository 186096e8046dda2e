namespace AnnexEdge.Logging;

/// <summary>Stable event ids: operators alert on them, so never renumber.</summary>
internal static class EdgeEventIds
{
    public const int Started = 1000;
    public const int EphemeralTokenKey = 1001;
    public const int RepositoryConfigured = 1002;

    public const int RequestRejected = 2000;
    public const int UnknownUuid = 2001;
    public const int DataLengthMismatch = 2002;
    public const int ConnectRetry = 2003;

    public const int LockGranted = 3000;
    public const int LockTokenRefused = 3001;
    public const int LockBackendGone = 3002;
    public const int LockAnswerInvalid = 3003;
    public const int KeepLockedFailed = 3004;
    public const int KeepLockedInvalidBody = 3005;
    public const int LockRefusedBudget = 3006;
    public const int LockRefusedQuota = 3007;

    public const int ClusterPartialRemoval = 4000;
    public const int ClusterNodeDidNotStore = 4001;
    public const int ClusterUploadAborted = 4002;
    public const int ClusterDownloadResumed = 4003;
    public const int ClusterDownloadFailed = 4004;

    // 5000-5099: automatic HTTPS (ACME), defined in AnnexEdge.Acme.AcmeEventIds (that project cannot see this one).

    public const int AnonymousAccess = 6000;
    public const int LoginFailed = 6001;
    public const int LoginThrottled = 6002;
    public const int AccessDenied = 6003;
    public const int Audit = 6004;
    public const int CredentialsOverHttp = 6005;
    public const int AnonymousLockingOff = 6006;
    public const int UsersConfigured = 6007;

    public const int ConnectionsPerIpExceeded = 6020;
    public const int ProxyHeaderRefused = 6021;
}
