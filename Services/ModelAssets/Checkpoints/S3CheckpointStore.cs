using System.Net;
using Amazon.S3;
using Amazon.S3.Model;

namespace MsSwift.Modeling.Checkpoints;

/// <summary>
/// Checkpoints as objects in an S3-compatible bucket, under an optional key prefix. A save is
/// written to a local temporary file first and uploaded with one PUT: S3 makes an object visible
/// only once it is complete, so readers never see a torn checkpoint, and a writer that dies
/// mid-save leaves the previous object in place.
/// </summary>
public sealed class S3CheckpointStore(IAmazonS3 s3, string bucket, string prefix = "") : ICheckpointStore
{
    private readonly string _prefix = prefix.Length == 0 || prefix.EndsWith('/') ? prefix : prefix + "/";

    public async Task SaveAsync(string name, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        var key = KeyOf(name);
        var temporary = Path.Combine(Path.GetTempPath(), $"msswift-checkpoint-{Guid.NewGuid():N}");
        try
        {
            await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20, useAsync: true))
            {
                await write(file, cancellationToken);
                await file.FlushAsync(cancellationToken);
                file.Position = 0;
                try
                {
                    await PutAsync(key, file, cancellationToken);
                }
                catch (AmazonS3Exception error) when (error.ErrorCode == "NoSuchBucket")
                {
                    // A fresh object store (the MinIO of a new cluster) has no bucket yet: the first
                    // writer creates it. Where the credentials may not create buckets, this fails
                    // with the store's own AccessDenied, which says what to do.
                    await CreateBucketAsync(cancellationToken);
                    file.Position = 0;
                    await PutAsync(key, file, cancellationToken);
                }
            }
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    // Plain (not aws-chunked) signing: S3-compatible servers do not all decode chunk signatures.
    private Task<PutObjectResponse> PutAsync(string key, Stream file, CancellationToken cancellationToken) =>
        s3.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = key, InputStream = file, AutoCloseStream = false, UseChunkEncoding = false }, cancellationToken);

    private async Task CreateBucketAsync(CancellationToken cancellationToken)
    {
        try
        {
            await s3.PutBucketAsync(new PutBucketRequest { BucketName = bucket }, cancellationToken);
        }
        catch (AmazonS3Exception error) when (error.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
            // Another writer created it first.
        }
    }

    public async Task<Stream> OpenReadAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            var response = await s3.GetObjectAsync(bucket, KeyOf(name), cancellationToken);
            return new ResponseStream(response);
        }
        catch (AmazonS3Exception error) when (error.StatusCode == HttpStatusCode.NotFound)
        {
            throw new CheckpointNotFoundException(name);
        }
    }

    public async Task<bool> ExistsAsync(string name, CancellationToken cancellationToken = default)
    {
        try
        {
            await s3.GetObjectMetadataAsync(bucket, KeyOf(name), cancellationToken);
            return true;
        }
        catch (AmazonS3Exception error) when (error.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<string>> ListAsync(string prefix = "", CancellationToken cancellationToken = default)
    {
        var names = new List<string>();
        var request = new ListObjectsV2Request { BucketName = bucket, Prefix = _prefix + prefix };
        ListObjectsV2Response response;
        do
        {
            response = await s3.ListObjectsV2Async(request, cancellationToken);
            names.AddRange((response.S3Objects ?? []).Select(entry => entry.Key[_prefix.Length..]));
            request.ContinuationToken = response.NextContinuationToken;
        }
        while (response.IsTruncated == true);

        return names.Order(StringComparer.Ordinal).ToList();
    }

    public Task DeleteAsync(string name, CancellationToken cancellationToken = default) =>
        s3.DeleteObjectAsync(bucket, KeyOf(name), cancellationToken);

    private string KeyOf(string name) => _prefix + string.Join('/', CheckpointNames.Segments(name));

    /// <summary>The object's body; disposing it also releases the HTTP response.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _body = response.ResponseStream;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => response.ContentLength;

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _body.Read(buffer, offset, count);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _body.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _body.ReadAsync(buffer, offset, count, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _body.Dispose();
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
