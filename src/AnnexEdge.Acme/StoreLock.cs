namespace AnnexEdge.Acme;

/// <summary>
/// An exclusive lock on <c>StorePath/.lock</c> between edge processes sharing the store, so only one of them orders
/// a certificate. .NET takes an flock(2) for <see cref="FileShare.None"/> on Unix, which the kernel drops when the
/// process dies, so a crashed holder never leaves the lock stuck.
/// </summary>
public sealed class StoreLock : IDisposable
{
    private readonly FileStream _file;

    private StoreLock(FileStream file)
    {
        _file = file;
    }

    /// <exception cref="InvalidOperationException">The store directory belongs to another user.</exception>
    public static StoreLock? TryAcquire(string storePath)
    {
        CertificateStore.EnsurePrivateDirectory(storePath);
        var path = Path.Combine(storePath, ".lock");
        try
        {
            // A link there (left from before the directory was made private) would make the open create or lock its target.
            if (new FileInfo(path).LinkTarget is not null)
            {
                File.Delete(path);
            }

            var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            return new StoreLock(new FileStream(path, options));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Waits for the lock; <paramref name="onWait"/> runs once if another process holds it.</summary>
    public static async Task<StoreLock> AcquireAsync(string storePath, TimeProvider time, Action? onWait, CancellationToken cancellationToken)
    {
        var waited = false;
        while (true)
        {
            if (TryAcquire(storePath) is { } acquired)
            {
                return acquired;
            }

            if (!waited)
            {
                waited = true;
                onWait?.Invoke();
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), time, cancellationToken);
        }
    }

    public void Dispose() => _file.Dispose();
}
