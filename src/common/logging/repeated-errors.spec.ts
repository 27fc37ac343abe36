import { RepeatedErrors } from './repeated-errors.js';

describe('RepeatedErrors', () => {
  it('logs the first error of a kind, counts its repeats within the window, and reports them with the next line', () => {
    let now = 0;
    const errors = new RepeatedErrors(60_000, () => now);
    const down = () => new Error('connect ECONNREFUSED 127.0.0.1:5432');
    expect(errors.admit(down())).toEqual({ log: true, suppressed: 0 });
    now = 1_000;
    expect(errors.admit(down())).toEqual({ log: false, suppressed: 0 });
    now = 59_999;
    expect(errors.admit(down())).toEqual({ log: false, suppressed: 0 });
    // another kind of error is not held back by the first
    expect(errors.admit(new Error('something else'))).toEqual({ log: true, suppressed: 0 });
    now = 60_000;
    expect(errors.admit(down())).toEqual({ log: true, suppressed: 2 });
    now = 60_001;
    expect(errors.admit(down())).toEqual({ log: false, suppressed: 0 });
  });
});
