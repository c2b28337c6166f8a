// A BuildRequestSubmitter that keeps what it is given, in order, as the build queue would.
import type { BuildRequestInput, BuildRequestSubmitter } from '../../src/master/schedulers/scheduler.js';

export interface RecordingSubmitter extends BuildRequestSubmitter {
  readonly requests: BuildRequestInput[];
}

export function recordingSubmitter(): RecordingSubmitter {
  const requests: BuildRequestInput[] = [];
  return {
    requests,
    async submit(request) {
      requests.push(request);
    },
  };
}
