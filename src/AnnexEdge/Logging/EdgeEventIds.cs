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
    public const int DownloadContinued = 2004;
    public const int DownloadNotContinued = 2005;

    public const int LockGranted = 3000;
    public const int LockTokenRefused = 3001;
    public const int LockBackendGone = 3002;
    public const int LockAnswerInvalid = 3003;
    public const int KeepLockedFailed = 3004;
    public const int KeepLockedInvalidBody = 3005;
    public const int LockRefusedBudget = 3006;
    public const int LockRefusedQuota = 3007;
    public const int LockRefusedShare = 3008;
    public const int LockRefusedReserved = 3009;
    public const int LockTokenExpired = 3010;
    public const int LockTokenAlreadyRelayed = 3011;
    public const int LockTokenOtherPrincipal = 3012;
    public const int LockTokenOutdated = 3013;
    public const int LockTokenNoRoom = 3014;
    public const int LockTokenOtherLock = 3015;
    public const int LockSlotsAllReserved = 3016;

    public const int ClusterPartialRemoval = 4000;
    public const int ClusterNodeDidNotStore = 4001;
    public const int ClusterUploadAborted = 4002;
    public const int ClusterDownloadResumed = 4003;
    public const int ClusterDownloadFailed = 4004;
    public const int ClusterPutInFlight = 4005;
    public const int NodePutsFull = 4006;

    // 5000-5099: automatic HTTPS (ACME), defined in AnnexEdge.Acme.AcmeEventIds (that project cannot see this one).

    public const int AnonymousAccess = 6000;
    public const int LoginFailed = 6001;
    public const int LoginThrottled = 6002;
    public const int AccessDenied = 6003;
    public const int Audit = 6004;
    public const int CredentialsOverHttp = 6005;
    public const int AnonymousLockingOff = 6006;
    public const int UsersConfigured = 6007;
    public const int PasswordChecksBusy = 6008;

    public const int ConnectionsPerIpExceeded = 6020;
    public const int ProxyHeaderRefused = 6021;
    public const int TlsBuffersReleased = 6022;
    public const int TlsBuffersKept = 6023;

    // 7020-7039: operating the edge (stop, systemd).
    public const int Stopping = 7020;
    public const int StopCutting = 7021;
    public const int StoppedGracefully = 7022;
    public const int StoppedAfterCut = 7023;
    public const int LockReleasedAtStop = 7024;
    public const int LockReleaseAtStopFailed = 7025;
    public const int SystemdSocket = 7026;
    public const int IdleMemoryReleased = 7027;

    // 8000-8019: git over smart HTTP and annex.url discovery.
    public const int GitConfigured = 8000;
    public const int GitBackendExited = 8001;
    public const int GitBadCgiAnswer = 8002;
    public const int GitBackendSaid = 8003;
    public const int GitClientGone = 8004;
    public const int GitUpstreamFailed = 8005;
    public const int GitNoPublicUrl = 8006;
    public const int GitBackendsBusy = 8007;

    // 9000-9039: routing between peers (multi-site clusters).
    public const int RouteAdded = 9000;
    public const int RouteChanged = 9001;
    public const int RouteWithdrawn = 9002;
    public const int PeerFetchFailed = 9003;
    public const int RoutedThroughPeer = 9004;
    public const int UnknownPeerAsked = 9005;
    public const int PeerNotToldOfChange = 9006;
    public const int ClusterPutThroughPeer = 9010;
    public const int ClusterPeerDidNotStore = 9011;
    public const int ClusterRemoveThroughPeer = 9012;
    public const int ClusterPeerPutInFlight = 9013;

    // 9020-9029: guards that end a managed p2phttp (Directories with Manage) when the edge is gone.
    public const int ManagedCannotGuard = 9020;
    public const int ManagedGuardEnded = 9021;

    // 8040-8079: reloading the configuration, directories of repositories.
    public const int ConfigReloaded = 8040;
    public const int ConfigReloadRefused = 8041;
    public const int ConfigNeedsRestart = 8042;
    public const int ConfigUnchanged = 8043;
    public const int ConfigWatchFailed = 8044;
    public const int DirectoryRepositoryAdded = 8045;
    public const int DirectoryRepositoryRemoved = 8046;
    public const int DirectoryRepositorySkipped = 8047;
    public const int DirectoryUnreadable = 8048;

    // 8050-8069: p2phttp servers the edge runs for Directories with Manage.
    public const int ManagedStarted = 8050;
    public const int ManagedSaid = 8051;
    public const int ManagedExited = 8052;
    public const int ManagedCannotStart = 8053;
    public const int ManagedStopping = 8054;
    public const int ManagedKilled = 8055;
    public const int ManagedNotAnswering = 8056;
    public const int ManagedSwitched = 8057;
    public const int ManagedDrained = 8058;
    public const int ManagedDrainTimedOut = 8059;
    public const int ManagedDraining = 8060;

    // 8061-8069: one health probe per backend address for the repositories of directories.
    public const int SharedBackendDown = 8061;
    public const int SharedBackendUp = 8062;

    // 8063: the reload path.
    public const int ConfigReloadFailed = 8063;
}
