// The peer pipeline's second step: upload a finished dump file to S3 with @aws-sdk/lib-storage
// (what popular backup images do after `pg_dump -f`); with FILE `-`, what it reads on stdin (the
// bench's hand-made stream). Usage: upload-file.mjs ENDPOINT BUCKET KEY FILE
import { createReadStream } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const [endpoint, bucket, key, file] = process.argv.slice(2);
const client = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
await new Upload({
  client,
  params: { Bucket: bucket, Key: key, Body: file === '-' ? process.stdin : createReadStream(file) },
  partSize: 8 * 1024 * 1024,
  queueSize: 4,
}).done();
client.destroy();
